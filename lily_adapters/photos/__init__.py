"""Photo stores: S3 (or any S3-compatible server) and local files for the embedded default."""

from lily_adapters.photos.local import LocalPhotoStore
from lily_adapters.photos.s3 import S3PhotoStore

__all__ = ["LocalPhotoStore", "S3PhotoStore"]
