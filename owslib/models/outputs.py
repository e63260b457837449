"""The names of the model's output tensors, written once and imported everywhere.

Every model returns a dict with these keys (``forward(x) -> {key: (B, C, H, W)}`` at input size):

* :data:`SEM_LOGITS` — K known-class logits f_p of the semantic decoder (ContMAV Eq. 2);
* :data:`EMBEDDING` — the contrastive embedding f_p^d (Eqs. 7–9, 13);
* :data:`EMBEDDING_MLP` — the second decoder's embedding, when ``model__fusion=separate``;
* :data:`CONFIDENCE` — a one-channel confidence logit, when ``model__fusion=confidence``.

Extra heads registered by users add keys of their own.
"""

SEM_LOGITS = "sem_logits"
EMBEDDING = "embedding"
EMBEDDING_MLP = "embedding_mlp"
CONFIDENCE = "confidence"

#: The two vector spaces a pixel has, by the names ``loss__infonce_space`` gives them: the
#: contrastive decoder's embedding and the semantic logits.
SPACES = {"embedding": EMBEDDING, "semantic": SEM_LOGITS}
