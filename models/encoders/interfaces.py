"""What the encoder SavedModels take and give: the inputs content must be decoded to, shared by the converters
that write the models and the code that feeds them."""

IMAGE_SIZE = 224  # images are resized to IMAGE_SIZE x IMAGE_SIZE (what the ImageNet models were trained at)
AUDIO_SAMPLE_RATE = 16000  # mono waveforms in [-1, 1] at this rate (musicnn's)
