"""ProgramBench interop: import its tasks, run its pytest branches in twinbench's sandbox, grade its runs and
write its result files (`<iid>/<iid>.eval.json`, `_stats/score.json`)."""
