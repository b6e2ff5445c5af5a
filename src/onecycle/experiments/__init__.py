"""The experiment harness: datasets, models, arms, runs and reports, built on the public onecycle API."""
