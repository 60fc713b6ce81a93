"""Serving: a TF Serving-compatible model server (REST and gRPC), its clients and CLI commands.

Production runs the official tensorflow/serving image on the same pushed directory (deploy/); this server speaks the
same API for development, tests and small deployments where tensorflow_model_server cannot be installed.
"""
