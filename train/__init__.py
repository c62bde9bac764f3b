"""Training side of the edge deepfake detector: FF++ videos -> crops -> Keras models -> report.

Commands: ``python -m train etl|fit|evaluate|make-demo-data|bench-decode`` (see ``--help``).
Python API: :func:`train.etl.run_etl`, :func:`train.fit.fit`, :func:`train.evaluate.evaluate`,
:func:`train.synthetic.make_dataset`, :mod:`train.models`. Importing this package loads neither
TensorFlow nor any model.
"""
