"""Embed: texts in, normalized vectors out.

The `Embedder` protocol, its implementations (OpenVINO, sentence-transformers, the hashing test
double) and their registry (`embedders`), Ray Data for large jobs (`distributed`), and the offline
all-mpnet-base-v2 install (`mpnet`).
"""
