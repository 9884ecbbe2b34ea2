"""Deep Compression with retraining, on real data (Han, Mao and Dally, ICLR 2016).

A numpy MLP (:mod:`.mlp`, :mod:`.optim`) trained through Deep Compression's stages
(:mod:`.deep_compression`: iterative magnitude pruning with masked retraining, k-means
weight sharing, centroid fine-tuning; storage with Huffman coding from :mod:`eie.compress`),
the same stages for the ``nn.Linear`` layers of any PyTorch module (:mod:`.torch_path`,
torch imported only there and only when called), the data of the built-in example
(:mod:`.data`), the compressed network on the array's fixed point, batched
(:mod:`.accelerator`), one seeded run of the LeNet-300-100 example (:mod:`.example`) and its
report (:mod:`.report`).  ``eie deep-compress`` is the command line (docs/training.md).

DSD training (dense-sparse-dense, Han et al., ICLR 2017): the trainer (:mod:`.dsd`; the
PyTorch one is :func:`.torch_path.dsd_torch`), the example against dense baselines and on
the array (:mod:`.dsd_example`), its report (:mod:`.dsd_report`); ``eie dsd`` (docs/dsd.md).
"""

from .accelerator import (
    AcceleratorRun,
    ArraySpeed,
    accelerator_accuracy,
    accelerator_outputs,
    array_speed,
    calibrate_plans,
)
from .data import DATASETS, Dataset, load_dataset
from .deep_compression import (
    SharedLayer,
    SharedMLP,
    centroid_gradient,
    finetune_centroids,
    prune_and_retrain,
    share_layers,
    storage_reports,
    total_storage,
    train_dense,
)
from .dsd import DSDConfig, DSDResult, EpochLog, dense_step, dsd_train, redense_step, sparse_step
from .dsd_example import DSDRun, run_dsd
from .example import EXAMPLES, DeepCompressionRun, TrainConfig, run_deep_compression
from .mlp import MLP
from .optim import SGD, Adam
from .threads import blas_threads

__all__ = ["MLP", "SGD", "Adam", "SharedLayer", "SharedMLP", "train_dense", "prune_and_retrain", "share_layers",
           "centroid_gradient", "finetune_centroids", "storage_reports", "total_storage", "DATASETS", "Dataset",
           "load_dataset", "AcceleratorRun", "calibrate_plans", "accelerator_outputs", "accelerator_accuracy",
           "EXAMPLES", "TrainConfig", "DeepCompressionRun", "run_deep_compression", "blas_threads",
           "ArraySpeed", "array_speed", "DSDConfig", "DSDResult", "EpochLog", "dense_step", "sparse_step", "redense_step",
           "dsd_train", "DSDRun", "run_dsd"]
