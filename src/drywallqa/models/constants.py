"""Constants shared by the models: the ImageNet pixel statistics (on 0..1 RGB) that the pretrained
backbones (CLIPSeg, SAM) and the default FiLM-UNet configuration normalise their input with."""

IMAGENET_MEAN: tuple = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple = (0.229, 0.224, 0.225)
