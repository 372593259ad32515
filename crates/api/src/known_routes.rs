//! What the API answers for a path it has but a method it does not: 405 with `Allow`,
//! taken from the OpenAPI document (the one list of routes), instead of a 404 that would
//! tell a client the path does not exist.

use actix_web::HttpRequest;
use actix_web::http::Method;
use utoipa::openapi::OpenApi;

use crate::problem::ApiError;

/// The documented paths, as segments (`None` for a `{parameter}`), with their methods.
#[derive(Debug, Clone, Default)]
pub struct KnownRoutes {
    routes: Vec<(Vec<Option<String>>, Vec<Method>)>,
}

impl KnownRoutes {
    pub fn from_document(document: &OpenApi) -> Self {
        let routes = document
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned()))
                    .collect();
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                (segments, methods)
            })
            .collect();
        Self { routes }
    }

    /// The methods a path has, in the order GET, POST, PUT, PATCH, DELETE. Literal
    /// segments win over parameters, as in the router: `/terminal-users/activations` is
    /// that path's, not `/terminal-users/{id}`'s.
    pub fn methods_of(&self, path: &str) -> Vec<Method> {
        let segments: Vec<&str> = path.split('/').collect();
        let matching = self.routes.iter().filter(|(template, _)| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| match t {
                    Some(literal) => literal == s,
                    None => !s.is_empty(),
                })
        });
        let literals =
            |template: &[Option<String>]| template.iter().filter(|t| t.is_some()).count();
        let most_specific = matching.clone().map(|(t, _)| literals(t)).max();
        let mut methods: Vec<Method> = Vec::new();
        for (_, offered) in matching.filter(|(t, _)| Some(literals(t)) == most_specific) {
            for method in offered {
                if !methods.contains(method) {
                    methods.push(method.clone());
                }
            }
        }
        let order = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ];
        methods.sort_by_key(|m| order.iter().position(|o| o == m));
        methods
    }

    /// The answer to a request no route took: 405 when the path exists, else 404.
    pub fn unmatched(&self, req: &HttpRequest) -> ApiError {
        let allowed = self.methods_of(req.path());
        if allowed.is_empty() {
            ApiError::route_not_found()
        } else {
            ApiError::method_not_allowed(&allowed)
        }
    }
}
