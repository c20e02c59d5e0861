"""Opens collections of wangge's OGC API - Features with QGIS's OAPIF provider, headless.

Usage: QT_QPA_PLATFORM=offscreen python3 oapif_count.py BASE_URL TOKEN COLLECTION...
Prints one line per collection: its id, the features QGIS reads from it, and the codes
of the first three it read (the bearer token is added to every request QGIS makes, as
QGIS 3.22 has no header authentication method; 3.26 and later can use "API Header").
"""

import os
import sys
import tempfile

os.environ.setdefault("QGIS_AUTH_DB_DIR_PATH", tempfile.mkdtemp())

from qgis.core import QgsApplication, QgsNetworkAccessManager, QgsVectorLayer  # noqa: E402
from qgis.PyQt.QtCore import QByteArray  # noqa: E402


def main() -> int:
    base, token, collections = sys.argv[1], sys.argv[2], sys.argv[3:]
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()

    def bearer(request):
        request.setRawHeader(QByteArray(b"Authorization"), QByteArray(f"Bearer {token}".encode()))

    QgsNetworkAccessManager.setRequestPreprocessor(bearer)
    failed = 0
    for cid in collections:
        uri = f"url='{base}' typename='{cid}' pagingEnabled='true' restrictToRequestBBOX='0'"
        layer = QgsVectorLayer(uri, cid, "OAPIF")
        if not layer.isValid():
            print(f"{cid} invalid {layer.dataProvider().error().message() if layer.dataProvider() else ''}")
            failed += 1
            continue
        codes = []
        n = 0
        for f in layer.getFeatures():
            n += 1
            if len(codes) < 3 and "code" in f.fields().names():
                codes.append(str(f["code"]))
        print(f"{cid} {n} {','.join(codes)}")
    sys.stdout.flush()
    # Leaving without tearing QGIS down: its exit in a headless script can crash after the
    # work is done, which would hide the answer behind a failing status.
    del app
    return 1 if failed else 0


if __name__ == "__main__":
    os._exit(main())
