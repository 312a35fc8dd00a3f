"""torch.hub entries: Megvii's model builders, so that

    model = torch.hub.load("<this repository, or a local clone with source='local'>", "yolox_s", pretrained=False)
    model = torch.hub.load(..., "yolox_custom", exp_path="exp.py", ckpt_path="best_ckpt.pth")

return the model (see ``yolox/models/build.py`` for ``pretrained=True`` and the official weights).
"""
# What importing yolox.models needs (torch.hub checks that each is installed).
dependencies = ["torch", "torchvision", "numpy", "cv2", "loguru", "psutil"]

from yolox.models import (  # noqa: E402, F401 (torch.hub finds the entries by name)
    yolov3,
    yolox_custom,
    yolox_l,
    yolox_m,
    yolox_nano,
    yolox_s,
    yolox_tiny,
    yolox_x,
)
