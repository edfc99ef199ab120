"""Default scheduler plugins, one module per upstream plugin directory."""
