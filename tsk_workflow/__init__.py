"""tsk-workflow."""
