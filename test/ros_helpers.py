"""Helpers for tests that run ROS 2 processes over real DDS."""
import itertools
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / 'ros_scripts'
_domain_counter = itertools.count()


def unique_domain_id() -> int:
    # Valid, non-default ids; distinct per test in this run and unlikely to collide with a parallel run.
    return 10 + (os.getpid() * 7 + next(_domain_counter)) % 90


def ros_subprocess_env(tmp_path: Path) -> dict:
    env = dict(os.environ)  # keeps LD_LIBRARY_PATH set by the ROS wheels' bootstrapper
    env.update({
        'ROS_DOMAIN_ID': str(unique_domain_id()),
        'ROS_LOG_DIR': str(tmp_path / 'ros_log'),
        'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
        'FASTDDS_DEFAULT_PROFILES_FILE': str(REPO / 'config' / 'fastdds_large_data.xml'),
        'PYTHONUNBUFFERED': '1',
        'RCUTILS_LOGGING_BUFFERED_STREAM': '0',
    })
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), env.get('PYTHONPATH', '')) if p)
    return env


def start(args, env, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    """Interrupt (as Ctrl-C would), then kill if needed; return everything it printed."""
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    out, _ = proc.communicate()
    return out or ''


def wait_output(proc: subprocess.Popen, timeout: float) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f'process timed out after {timeout} s; output:\n{out}')
    return out


def report_while_running(background, reporter, env, timeout: float):
    """Start the ``background`` processes (argument lists, in order), run the ``reporter`` script until it prints
    its JSON report (the last line), then stop the background ones, last started first.
    Returns (report, the reporter's output, the background processes' outputs in start order)."""
    import json
    procs = [start(args, env) for args in background]
    try:
        out = wait_output(start(reporter, env), timeout)
    finally:
        logs = [stop(p) for p in reversed(procs)][::-1]
    return json.loads(out.strip().splitlines()[-1]), out, logs
