from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from pars.accounts import mfa_views, views

app_name = "accounts"

P = "p/<str:provider_id>/"  # one provider's workspace; its views apply the tenancy rule

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        views.SetPasswordView.as_view(),
        name="set_password",
    ),
    path(
        "accounts/password-set/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path(
        "accounts/password-change/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html",
            success_url=reverse_lazy("accounts:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "accounts/password-change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("accounts/two-factor/", mfa_views.mfa_settings, name="mfa_settings"),
    path("accounts/two-factor/verify/", mfa_views.mfa_verify, name="mfa_verify"),
    path("accounts/two-factor/set-up/", mfa_views.mfa_enrol, name="mfa_enrol"),
    path("accounts/two-factor/recovery-codes/", mfa_views.mfa_recovery_codes, name="mfa_recovery"),
    path("accounts/two-factor/turn-off/", mfa_views.mfa_disable, name="mfa_disable"),
    path(
        "accounts/users/<int:pk>/two-factor/reset/",
        mfa_views.staff_mfa_reset,
        name="staff_mfa_reset",
    ),
    path("accounts/providers/", views.choose_provider, name="choose_provider"),
    path(P + "users/", views.member_list, name="member_list"),
    path(P + "users/invite/", views.member_invite, name="member_invite"),
    path(P + "users/two-factor/", mfa_views.member_mfa_policy, name="member_mfa_policy"),
    path(P + "users/<int:pk>/role/", views.member_role, name="member_role"),
    path(P + "users/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path(P + "users/<int:pk>/resend/", views.member_resend, name="member_resend"),
    path(P + "api-keys/", views.api_key_list, name="api_keys"),
    path(P + "api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
