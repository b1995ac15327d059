"""`python -m bench.launch USAGE_JSON COMMAND...`: run COMMAND and write its own CPU time and peak RSS.

Why this hop: the bench forks its children from a process that holds an emulator (vfork shares its
memory), and Linux folds the pre-exec image's peak RSS into the child's `ru_maxrss`. Forked from this
small launcher instead, the child's peak is its own (or this launcher's ~10 MiB, whichever is larger).
"""

import json
import os
import sys


def main() -> None:
    usage_path, command = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    with open(usage_path, "w") as file:
        json.dump({"cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_kib": usage.ru_maxrss}, file)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
