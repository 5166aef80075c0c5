"""The runner: discover, select, schedule, execute and compare test cases."""
