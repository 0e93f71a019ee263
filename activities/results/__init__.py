"""Pure results logic (talent decisions, succession slates, KPI actuals) behind the thin
activity wrappers in `activities.records` and `activities.sync`."""
