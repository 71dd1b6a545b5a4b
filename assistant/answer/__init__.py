"""Answering: retrieval, fusion, the evidence gate, generators and citation checks, composed by the chain.

The stages exchange the small frozen values of ``types``; ``chain.AnswerChain`` runs them in order.
"""
