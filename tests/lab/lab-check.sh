#!/bin/bash
# make lab-check: the KVM engine end to end in the nested-KVM lab. Not built yet.
echo "lab-check: not yet: the KVM engine and the lab are still being written (issues 3 and 9)" >&2
exit 1
