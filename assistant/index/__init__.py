"""Indexing: source documents -> passages -> Chroma (dense) and BM25 (lexical), crash-safe generations.

``documents`` (knowledge front matter) and ``loaders`` (users' files) read sources; ``chunking`` cuts
passages; ``embeddings`` and ``chroma`` hold the vectors; ``snapshot`` writes and loads one complete
generation; ``store`` builds generations and reads the committed one; ``shared`` publishes them to a
Chroma server; ``ingest`` is what the CLI and the app call. Nothing here knows about answers.
"""
