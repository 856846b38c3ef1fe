"""Model presets and families (registry), loaders, attention processors, encoders, the prior;
model families live in their own subpackages."""
