"""Pictures for understanding training: what the label assigner did."""
from .assign_vis import (
    ImageAssignmentView,
    compute_assignments,
    draw_assignments,
    render_assignment_batches,
    tensor_to_image,
)
