"""The command-line tools, one module each with ``make_parser()`` and ``main(argv=None)``:
``python -m yolox.tools.train ...`` is ``python tools/train.py ...``.

Nothing is imported here, so ``python -m yolox.tools.<name>`` loads only what that tool needs
(evaluating, exporting or drawing never loads the trainer).
"""
