"""Drafting: the catalogue of objectives and routes, the buyer's request, corpus evidence, the drafter
and the Markdown/DOCX exports."""
