"""The content embedding job: every catalog item's text, cover art / video frames and audio through the pretrained
encoders, on Beam, with a cache keyed by content (see embed.py)."""
