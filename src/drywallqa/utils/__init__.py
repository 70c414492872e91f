"""Helpers with no model in them: registries, files written whole, folder locks, path checks, strict JSON, output
folders, file stamps, image reading, argument checks, YAML files, stop signals, progress bars, deprecation warnings.
Modules are imported by name (``drywallqa.utils.registry``)."""
