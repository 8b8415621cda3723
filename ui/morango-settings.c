/* morango-settings.c: the app's GSettings, installed or not
 *
 * SPDX-License-Identifier: MIT
 */
#define G_SETTINGS_ENABLE_BACKEND 1
#include <gio/gsettingsbackend.h>

#include "morango-settings.h"

GSettings *
morango_settings_new (void)
{
  GSettingsSchemaSource *installed = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchemaSource) built = NULL;
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettingsBackend) memory = NULL;
  g_autoptr(GError) error = NULL;

  if (installed != NULL)
    schema = g_settings_schema_source_lookup (installed, MORANGO_SETTINGS_SCHEMA, TRUE);
  if (schema != NULL)
    return g_settings_new_full (schema, NULL, NULL);

  built = g_settings_schema_source_new_from_directory (MORANGO_BUILD_SCHEMA_DIR, installed, FALSE, &error);
  if (built != NULL)
    schema = g_settings_schema_source_lookup (built, MORANGO_SETTINGS_SCHEMA, FALSE);
  if (schema == NULL)
    g_error ("The settings schema %s is neither installed nor built in %s%s%s: "
             "reinstall Morango Sync", MORANGO_SETTINGS_SCHEMA, MORANGO_BUILD_SCHEMA_DIR,
             error ? ": " : "", error ? error->message : "");
  memory = g_memory_settings_backend_new ();
  return g_settings_new_full (schema, memory, NULL);
}
