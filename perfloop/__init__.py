"""The shell around the engine: settings, the `perfloop` CLI, the `perfloop dev`
supervisor and the demo.

May import every other package (definitions, store, workflows, activities, api);
nothing else imports from here except `perfloop.settings`.
"""

__version__ = "0.1.0"
