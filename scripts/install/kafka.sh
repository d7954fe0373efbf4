#!/usr/bin/env bash
# Kafka broker jars (KRaft, single node) from Maven Central into .local/opt/kafka/libs, per local/java/kafka/pom.xml.
# Idempotent: skipped when the jars match the pom (hash marker).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HOME_DIR="${LOCAL_PLATFORM_HOME:-$REPO/.local}"
LIBS="$HOME_DIR/opt/kafka/libs"
POM="$REPO/local/java/kafka/pom.xml"
want="$(sha256sum "$POM" | cut -d' ' -f1)"
if [ -f "$LIBS/.pom-sha256" ] && [ "$(cat "$LIBS/.pom-sha256")" = "$want" ]; then
  echo "kafka: jars already match $POM"; exit 0
fi
command -v java >/dev/null || { echo "kafka: java (17+) is required"; exit 1; }
command -v mvn >/dev/null || { echo "kafka: mvn is required"; exit 1; }
rm -rf "$LIBS"; mkdir -p "$LIBS"
mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS"
echo "$want" > "$LIBS/.pom-sha256"
echo "kafka: $(ls "$LIBS"/*.jar | wc -l) jars in $LIBS"
