"""miniworld: small models trained by anypix on a procedural world of shapes, tones and styles."""
