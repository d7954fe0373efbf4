/**
 * The package's root entry point (`import { Kafka, Platform } from "airflow-platform"`): every component and
 * the Platform. Each is also its own entry point (`airflow-platform/kafka`, `airflow-platform/platform`, …;
 * the `exports` map of package.json), which loads only that component and its dependencies.
 *
 * @packageDocumentation
 */
export * from "./airflow";
export * from "./aws";
export * from "./errors";
export * from "./image";
export * from "./kafka";
export * from "./marquez";
export * from "./mlflow";
export * from "./monitoring";
export * from "./network";
export * from "./platform";
export * from "./pools";
export * from "./postgres";
export * from "./redis";
export * from "./secrets";
export * from "./vault";
