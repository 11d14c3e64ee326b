"""The image–GPS alignment family (GeoCLIP-style contrastive model with a concept bank).

The model and its training live in ``model.py`` and the shared training loop; this
package also holds what answers with a trained model: GPS galleries kept in PostGIS
(``gallery``), their embeddings cached per (checkpoint, gallery) (``cache``), batched
top-k similarity (``topk``), predictions written beside the classifier's (``predict``),
the concept report (``report``) and the downstream linear probe (``probe``).
"""
