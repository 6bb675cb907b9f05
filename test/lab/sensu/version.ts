/**
 * The Sensu release the stand-ins impersonate, and `version` output in sensu-go's format
 * (version/version.go: `<component> version <semver>+<edition>, <edition> edition, build …`).
 */

/** The impersonated sensu-go release. */
export const SENSU_VERSION = '6.12.0';
/** Marks the build as the lab's stand-in wherever a build SHA would appear. */
export const BUILD_SHA = 'lab-standin';
const BUILD_DATE = '2024-09-18';
const GO_VERSION = 'go1.21.13';

/** API group versions `/version` lists (sensu-go's `apitools.APIModuleVersions()`). */
export const API_GROUPS: Record<string, string> = {
  'core/v2': 'v2.20.0',
  'core/v3': 'v3.9.0',
};

/** The line `sensu-backend version` / `sensu-agent version` prints. */
export function versionLine(component: 'sensu-backend' | 'sensu-agent'): string {
  return `${component} version ${SENSU_VERSION}+oss, oss edition, build ${BUILD_SHA}, built ${BUILD_DATE}, built with ${GO_VERSION}`;
}
