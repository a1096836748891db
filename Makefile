# react_ros: one-command set-up, tests and demo.
#
#   make demo       set up .venv if needed, then run the demo
#   make test       set up .venv if needed, then run the tests
#   make lint       ament_flake8 and ament_pep257 over the Python sources
#   make clean      remove build/ and out/ (make distclean also removes .venv)

VENV := .venv
PYTHON := $(VENV)/bin/python
LINT_PATHS := react_ros test $(wildcard launch) setup.py

# Every ROS process started from here discovers peers on this machine only, in a DDS domain
# of its own run (1..100) so that parallel runs do not meet; `make test ROS_DOMAIN_ID=N` overrides.
ROS_DOMAIN_ID := $(shell echo $$(( $$$$ % 100 + 1 )))
ROS_ENV := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_DOMAIN_ID=$(ROS_DOMAIN_ID)

.PHONY: $(VENV) test demo lint clean distclean

$(VENV):
	tools/setup_env.sh $(VENV)

# pytest exits 5 when it collected no test: that fails here like any other non-zero code.
test: $(VENV)
	$(ROS_ENV) $(PYTHON) -m pytest test -q

demo: $(VENV)
	$(ROS_ENV) $(PYTHON) -m react_ros demo

lint: $(VENV)
	$(VENV)/bin/ament_flake8 $(LINT_PATHS)
	$(VENV)/bin/ament_pep257 $(LINT_PATHS)

clean:
	rm -rf build out

distclean: clean
	rm -rf $(VENV)
