"""Every side effect, each behind a narrow interface with an embedded default and a
real adapter: HRIS, notifications, progress sources, scoring, records.

May import: definitions, store. Imported by: perfloop (worker), workflows (input and
output types only, through `imports_passed_through`), tests.
"""
