# seg_perception: `make setup` builds .venv from nothing (idempotent), `make test` runs the suite.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
PYTEST_ARGS ?=

# ROS 2 Kilted wheels from PyPI (see README: a real ROS install provides these instead).
ROS_PKGS := ros-rclpy ros-sensor-msgs ros-geometry-msgs ros-visualization-msgs ros-std-msgs \
            ros-diagnostic-msgs ros-lifecycle-msgs ros-shape-msgs ros-rmw-fastrtps-cpp
PY_PKGS := torch==2.14.1 torchvision==0.29.1 open3d opencv-python-headless scipy pyyaml pillow \
           pytest hypothesis rosbags onnx onnxruntime matplotlib colcon-common-extensions
# pip prints one line per missing local index folder; hide that noise, keep real errors.
QUIET_PIP := 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }

.PHONY: setup test test-fast demo gpu-check clean system-deps

setup: $(STAMP)

system-deps:
	@# open3d needs libusb at import time (grep reads all input: -q would break the pipe under pipefail).
	@if ! ldconfig -p | grep 'libusb-1.0.so.0' >/dev/null; then \
	  echo "installing libusb-1.0-0 (needed by open3d)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libusb-1.0-0; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq libusb-1.0-0; fi; \
	fi

$(STAMP): setup.py package.xml Makefile | system-deps
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel $(QUIET_PIP)
	$(VPY) -m pip install -q $(ROS_PKGS) $(PY_PKGS) $(QUIET_PIP)
	$(VPY) -m pip install -q --no-deps -e . $(QUIET_PIP)
	$(VPY) -m pip check
	$(VPY) -c "import rclpy, torch, torchvision, open3d, cv2, scipy; print('setup ok: torch', torch.__version__)"
	@touch $(STAMP)

test: setup
	$(VPY) -m pytest -q $(PYTEST_ARGS)

test-fast: setup
	$(VPY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# The main job with no hardware: synthetic camera + perception_node over DDS for 20 s, overlays in demo_output/.
demo: setup
	$(VPY) -m seg_perception.ros.demo --seconds 20 --out demo_output

# GPU tests + bench on CUDA (learned and geometric backends) into gpu_check_output/; on a CPU-only machine the
# CUDA parts are skipped with a message and bench runs on the CPU.
gpu-check: setup
	PYTHON=$(VPY) bash .ci/gpu-check gpu_check_output

clean:
	rm -rf $(VENV) build install log .pytest_cache *.egg-info
