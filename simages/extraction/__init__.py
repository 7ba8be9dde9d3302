"""Feature extraction: image decoding, the VGG-16 network, pooling of its last convolutional map."""
