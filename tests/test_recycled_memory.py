"""yolox.data.recycled_memory: a block returns for reuse only once nothing can reach it."""
import gc

import torch

from yolox.data import recycled_memory


def test_memory_is_reused_only_after_every_alias_is_gone():
    shape = (2, 3, 5, 7)  # a size no other test hands out
    first = recycled_memory.empty(shape, torch.float32)
    assert first.shape == shape and first.dtype == torch.float32
    ptr = first.data_ptr()
    view, array = first[1], first.numpy()
    del first
    gc.collect()
    other = recycled_memory.empty(shape, torch.float32)
    assert other.data_ptr() != ptr  # the view and the array still see the first block
    del view
    gc.collect()
    assert recycled_memory.empty(shape, torch.float32).data_ptr() != ptr  # the array still does
    del array
    gc.collect()
    again = recycled_memory.empty(shape, torch.float32)
    assert again.data_ptr() == ptr
    again.fill_(3.0)
    assert (again == 3.0).all() and other.data_ptr() != again.data_ptr()


def test_blocks_are_reused_across_dtypes_of_the_same_byte_size_and_bfloat16_works():
    a = recycled_memory.empty((11, 13), torch.int32)
    ptr = a.data_ptr()
    del a
    gc.collect()
    b = recycled_memory.empty((11, 13), torch.float32)
    assert b.dtype == torch.float32 and b.data_ptr() == ptr
    assert recycled_memory.empty((4, 2), torch.bfloat16).dtype == torch.bfloat16
