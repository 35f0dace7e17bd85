"""Source-aware midtraining data selection (MIRA): group sources, discover a rubric per group, distil the
teacher's rubric scores into a cheap student per group, aggregate by reliability, keep the top documents of
each source. `rlvr select recipe=tiny_mira` runs it (stage.py); docs/ARCHITECTURE.md has the data flow.
"""
