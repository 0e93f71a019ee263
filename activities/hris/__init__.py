"""HRIS adapters: where people, the org chart and pay come from, and where results go.

`base.Hris` is the narrow interface; `embedded.EmbeddedHris` reads the store's employee
table (loaded from a CSV or JSON file); `scim.ScimHris` reads a SCIM 2.0 service.
"""
