# The Temporal server, its SQL schema tool and the Temporal CLI, built from source at the
# versions scripts/setup.sh --cluster builds for the local cluster (devstack/temporal-cluster.ts).
FROM golang:1.26-bookworm AS build
ENV GOTOOLCHAIN=go1.27.3 CGO_ENABLED=0
RUN go install go.temporal.io/server/cmd/server@v1.32.2 \
 && go install go.temporal.io/server/cmd/tools/sql@v1.32.2 \
 && go install github.com/temporalio/cli/cmd/temporal@v1.5.1 \
 && mkdir -p /out/etc/temporal/config \
 && cp -r /go/pkg/mod/go.temporal.io/server@v1.32.2/schema /out/etc/temporal/schema \
 && cp /go/pkg/mod/go.temporal.io/server@v1.32.2/config/docker.yaml /out/etc/temporal/config/docker.yaml

FROM debian:bookworm-slim
COPY --from=build /go/bin/server /go/bin/sql /go/bin/temporal /usr/local/bin/
COPY --from=build /out/etc/temporal /etc/temporal
COPY deploy/temporal-dynamicconfig.yaml /etc/temporal/config/dynamicconfig/docker.yaml
COPY deploy/secrets-env.sh deploy/temporal-schema.sh /usr/local/bin/
EXPOSE 7233
# Membership gossip needs this node's own address (one per replica).
CMD ["sh", "-c", "export TEMPORAL_BROADCAST_ADDRESS=$(hostname -i | cut -d' ' -f1) && exec secrets-env.sh server --config-file /etc/temporal/config/docker.yaml start"]
