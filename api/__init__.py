"""The FastAPI application: one router per resource, authentication and authorisation,
the task inbox and forms, dashboards, `/metrics`, and the web task list.

May import: definitions, store, workflows (types and ids only), activities (types).
Imported by: perfloop (the `api` and `dev` commands), tests.
"""
