"""One router per resource under `/v1` (plus the unauthenticated probes in `health`).

Each route declares exactly one permission with `api.permissions.permit(...)` and calls
`api/services/`; `api.app.create_app` refuses a `/v1` route that declares none.
"""
