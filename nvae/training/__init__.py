"""The resumable training loop, its setup and its schedules."""
