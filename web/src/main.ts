import { createApp } from 'vue';
import App from './App.vue';
import { createApiClient } from './api/client';
import { apiSleepsKey, loadConfig } from './config';
import { createTaskStore, taskStoreKey } from './stores/useTaskStore';
import './assets/main.css';

const config = await loadConfig();
const store = createTaskStore(createApiClient({ baseUrl: config.apiUrl }), config);

createApp(App, { appVersion: config.appVersion }).provide(taskStoreKey, store).provide(apiSleepsKey, config.apiSleeps).mount('#app');

void store.load();
void store.loadInfo();
