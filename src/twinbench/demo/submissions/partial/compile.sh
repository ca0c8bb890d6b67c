#!/bin/sh
# Build the figlet re-implementation: the Python script is the executable.
set -e
cp figlet.py executable
chmod +x executable
