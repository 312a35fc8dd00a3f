"""YOLOv3 (Darknet-53 + YOLOv3 FPN) with the YOLOX head: 63.7 M parameters, 640 input, LeakyReLU."""
from yolox.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 1.0  # unused: Darknet's depth is darknet_depth
        self.width = 1.0  # head width; also scales the Darknet stem (32 channels at 1.0)
        self.darknet_depth = 53  # 21 for the small Darknet

    def get_model(self):
        """YOLOFPN + a LeakyReLU YOLOXHead over its 128/256/512-channel maps, YOLOX's BN settings."""
        from yolox.models import YOLOFPN, YOLOX, YOLOXHead
        from yolox.utils.model_utils import set_bn_hyperparams

        if getattr(self, "model", None) is None:
            backbone = YOLOFPN(depth=self.darknet_depth, stem_out_channels=int(32 * self.width))
            head = YOLOXHead(num_classes=self.num_classes, width=self.width, in_channels=[128, 256, 512],
                             act="lrelu", assigner=self.get_assigner())
            self.model = YOLOX(backbone=backbone, head=head)
        set_bn_hyperparams(self.model, eps=1e-3, momentum=0.03)
        self.model.head.initialize_biases(1e-2)
        self.model.train()
        return self.model
