"""Progress from project tools: the pull-adapter interface and its adapters.

`base.ProgressAdapter` is the interface: given a person's login in the tool, return
`PulledEvent`s (issues closed, milestones decided). `github.GitHubIssuesAdapter` speaks a
GitHub-issues-style JSON API. `activity.ProgressActivities.pull_progress` runs an adapter
for one participant and stores what it finds as `ProgressEvent` rows, idempotently.
Pushed progress (the signed webhook) is in `api.services.progress_events`.
"""
