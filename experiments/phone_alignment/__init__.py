"""How close a phoneme model's aligned phone boundaries come to boundaries known by
construction (words synthesized one by one, joined with silences): README.md."""
