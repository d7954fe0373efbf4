import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import {
    aggregateNeeds,
    ContractError,
    contractConnections,
    DagNeeds,
    loadManifest,
    parseLock,
    poolsImportDocument,
    SERVICES,
    ServiceAvailability,
    shippedDags,
    stackRequirements,
} from "../../components/values/contract";

function needs(overrides: Partial<DagNeeds> = {}): DagNeeds {
    return {
        services: [], connections: {}, variables: {}, pools: {},
        assets: { produces: [], consumes: [] }, topics: [], databases: [], buckets: [], packages: [],
        ...overrides,
    };
}

function writeDags(phases: Record<string, unknown>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "needs-"));
    for (const [phase, doc] of Object.entries(phases)) {
        fs.mkdirSync(path.join(dir, phase));
        fs.writeFileSync(path.join(dir, phase, "needs.yaml"), typeof doc === "string" ? doc : yaml.dump(doc));
    }
    return dir;
}

const allOn = Object.fromEntries(SERVICES.map((s) => [s, true])) as ServiceAvailability;

describe("loading manifests", () => {
    test("reads every phase's needs.yaml in phase order", () => {
        const dir = writeDags({
            phase10: { phase10_01_a: needs() },
            phase2: { phase2_01_b: needs({ services: ["postgres"] }) },
        });
        const manifest = loadManifest(dir);
        expect(Object.keys(manifest.dags)).toEqual(["phase2_01_b", "phase10_01_a"]);
        expect(manifest.files.phase2_01_b).toMatch(/phase2\/needs\.yaml$/);
    });

    // Every other way a manifest is refused, word for word the same in both readers: contract-golden.test.ts.
    test("a field that fails the schema is an error naming the DAG and the field", () => {
        const dir = writeDags({ phase9: { phase9_01_db: { ...needs(), pools: { etl: { slots: 0 } } } } });
        expect(() => loadManifest(dir)).toThrow(/dag phase9_01_db, field pools\.etl\.slots: must be >= 1/);
    });

    test("a DAG declared in another phase's manifest is refused", () => {
        const dir = writeDags({ phase3: { phase4_01_x: needs() } });
        expect(() => loadManifest(dir)).toThrow(/phase4_01_x belongs to another phase's manifest/);
    });

    test("malformed YAML names the file", () => {
        const dir = writeDags({ phase1: "phase1_01_x: [unclosed" });
        expect(() => loadManifest(dir)).toThrow(/phase1\/needs\.yaml: not valid YAML/);
    });
});

describe("what a stack ships", () => {
    const manifest = loadManifest(writeDags({
        phase9: {
            phase9_01_db: needs({ services: ["postgres"] }),
            phase9_04_mq: needs({ services: ["kafka", "postgres"] }),
        },
    }));

    test("a DAG needing a service the stack has off fails with the DAG, its manifest and the service", () => {
        const noKafka = { ...allOn, kafka: false };
        expect(() => shippedDags(manifest, noKafka, [], "staging")).toThrow(ContractError);
        expect(() => shippedDags(manifest, noKafka, [], "staging")).toThrow(
            /stack staging can't satisfy 1 DAG\(s\) it ships:\n {2}phase9_04_mq \(.*phase9\/needs\.yaml\) needs kafka/,
        );
    });

    test("leaving the DAG out on purpose is the one exception, and it is reported", () => {
        const noKafka = { ...allOn, kafka: false };
        expect(shippedDags(manifest, noKafka, ["phase9_04_mq"], "staging")).toEqual({
            shipped: ["phase9_01_db"],
            excluded: ["phase9_04_mq"],
        });
    });

    test("excluding a DAG that doesn't exist is an error, not a silent no-op", () => {
        expect(() => shippedDags(manifest, allOn, ["phase9_99_typo"], "dev")).toThrow(/don't exist: phase9_99_typo/);
    });
});

describe("aggregating needs", () => {
    const pg = { type: "postgres", service: "postgres" as const, database: "warehouse" };

    test("merges connections, pools, topics and packages across DAGs", () => {
        const manifest = loadManifest(writeDags({
            phase9: {
                phase9_01_db: needs({ services: ["postgres"], connections: { postgres_default: pg }, pools: { etl: { slots: 4 } }, packages: ["psycopg2-binary"] }),
                phase9_04_mq: needs({
                    services: ["kafka", "postgres"],
                    connections: { postgres_default: pg },
                    topics: [
                        { name: "orders", partitions: 3, retention_ms: 604800000 },
                        { name: "orders.dlq", partitions: 1, retention_ms: 2592000000, dead_letter_for: "orders" },
                    ],
                }),
            },
        }));
        const agg = aggregateNeeds(manifest, ["phase9_01_db", "phase9_04_mq"]);
        expect(agg.connections.postgres_default.usedBy).toEqual(["phase9_01_db", "phase9_04_mq"]);
        expect(agg.pools).toEqual({ etl: 4 });
        expect(agg.topics.map((t) => t.name)).toEqual(["orders", "orders.dlq"]);
        expect(agg.packages).toEqual(["psycopg2-binary"]);
    });

    test("two DAGs declaring one pool with different slots is an error naming both", () => {
        const manifest = loadManifest(writeDags({
            phase5: { phase5_01_a: needs({ pools: { etl: { slots: 4 } } }), phase5_02_b: needs({ pools: { etl: { slots: 8 } } }) },
        }));
        expect(() => aggregateNeeds(manifest, ["phase5_01_a", "phase5_02_b"])).toThrow(/pool 'etl' is declared differently by phase5_01_a and phase5_02_b/);
    });

    test("a dead-letter topic whose source topic isn't shipped is an error", () => {
        const manifest = loadManifest(writeDags({
            phase9: { phase9_04_mq: needs({ topics: [{ name: "x.dlq", partitions: 1, retention_ms: 1, dead_letter_for: "x" }] }) },
        }));
        expect(() => aggregateNeeds(manifest, ["phase9_04_mq"])).toThrow(/dead-letter topic of 'x'/);
    });
});

describe("vault connections", () => {
    const endpoints = { airflowApi: "http://api", vault: { address: "http://vault:8200", mount: "airflow", role: "airflow", authMountPoint: "platform-vault-kubernetes" } };
    const withConn = (extra?: Record<string, unknown>) => {
        const manifest = loadManifest(writeDags({ phase16: { phase16_01_x: needs({ services: ["vault"], connections: { vault_x: { type: "vault", service: "vault", ...(extra ? { extra } : {}) } } }) } }));
        return aggregateNeeds(manifest, ["phase16_01_x"]);
    };

    test("a vault connection logs in with the Kubernetes role its extra.role names, Airflow's by default", () => {
        expect(contractConnections(withConn(), [], endpoints).vault_x.extra).toMatchObject({ kubernetes_role: "airflow", auth_mount_point: "platform-vault-kubernetes", mount_point: "airflow" });
        expect(contractConnections(withConn({ role: "secrets-rotation" }), [], endpoints).vault_x.extra).toMatchObject({ kubernetes_role: "secrets-rotation" });
    });

    test("a role the Vault layout doesn't define is an error naming the connection and the known roles", () => {
        expect(() => contractConnections(withConn({ role: "superuser" }), [], endpoints)).toThrow(
            /connection vault_x \(used by phase16_01_x\): extra.role "superuser" is not a role of config\/vault-layout.json \(airflow, secrets-rotation, audit, or team-<team>\)/,
        );
    });
});

describe("image requirements", () => {
    const lock = "apache-airflow==3.3.2\n    # via -r requirements.in\nscikit-learn==1.9.1\napache-airflow-providers-postgres==6.1.0\n";

    test("parses pins and normalises names", () => {
        expect(parseLock(lock).get("scikit-learn")).toBe("1.9.1");
    });

    test("pins each shipped package at the lock's version", () => {
        const text = stackRequirements({ ...aggregateNeeds({ dags: {}, files: {} }, []), packages: ["scikit_learn", "apache-airflow-providers-postgres"] }, lock, "prod");
        expect(text.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual([
            "apache-airflow==3.3.2",
            "apache-airflow-providers-postgres==6.1.0",
            "scikit-learn==1.9.1",
        ]);
    });

    test("a declared package missing from the lock is an error", () => {
        expect(() => stackRequirements({ ...aggregateNeeds({ dags: {}, files: {} }, []), packages: ["feast"] }, lock, "dev")).toThrow(/not in python\/requirements.lock: feast/);
    });
});

test("pools import document is sorted and carries the slots", () => {
    expect(poolsImportDocument({ ml: 2, etl: 4 })).toEqual({
        etl: { slots: 4, description: "provisioned from dags/*/needs.yaml", include_deferred: false },
        ml: { slots: 2, description: "provisioned from dags/*/needs.yaml", include_deferred: false },
    });
});

describe("the repository's own manifests", () => {
    const manifest = loadManifest();

    test("every manifest validates and every declared package is in the lock", () => {
        const lock = fs.readFileSync(path.join(__dirname, "..", "..", "python", "requirements.lock"), "utf8");
        const agg = aggregateNeeds(manifest, Object.keys(manifest.dags));
        expect(() => stackRequirements(agg, lock, "all")).not.toThrow();
    });
});
