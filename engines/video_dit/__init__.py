"""Video DiT preview: ASTRAEA token selection, query-sparse attention and evolutionary budget search (arXiv:2506.05096).
"""

from .config import Config
from .errors import VideoDiTError
from .record import load_model, record

__all__ = ["Config", "record", "load_model", "VideoDiTError"]
